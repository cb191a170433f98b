"""Method plugins."""
