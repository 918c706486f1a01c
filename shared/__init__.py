"""Shared kit of the three services: settings, db, errors, auth, clients, pagination, models."""
