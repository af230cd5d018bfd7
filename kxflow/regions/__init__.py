"""Reference data: provinces and county-level divisions with their official codes."""
