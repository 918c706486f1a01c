"""Training programmes, sessions, enrolments and attendance; hours credited to talent files."""
