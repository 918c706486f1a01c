"""Certificates of awards: a record per awarded competitor with an unguessable verification
code, a printable PDF with a QR code of the public verification URL, and revocation."""
