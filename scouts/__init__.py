"""scouts package."""
