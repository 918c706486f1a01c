"""Honours (skill leaders): the catalogue, grants to workers and their revocation."""
