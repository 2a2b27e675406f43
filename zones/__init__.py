"""City zones: geometry, validation and spatial queries."""
