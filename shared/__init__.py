"""Shared kit of the three services: settings, database, errors, auth, clients, pagination, models."""
