"""Innovation achievements (职工创新成果): teams, stages and links to competition entries."""
