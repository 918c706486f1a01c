"""Authentication and authorisation shared by the services (DESIGN.md section 5)."""
