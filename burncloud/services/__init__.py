"""Business rules over the database, shared by the CLI, the admin API and the router."""
