"""What every Syrena package shares: settings, the database and accounts."""
