"""The expert pool, panels with conflict-of-interest rules (回避, 加签), scoring and the aggregate."""
