"""Judge analytics for organisers: severity and leniency against the panel, inter-rater
agreement per aspect (Krippendorff's alpha), and a box plot of each judge's marks."""
