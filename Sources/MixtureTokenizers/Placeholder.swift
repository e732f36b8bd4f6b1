enum _PlaceholderMixtureTokenizers {}
