"""Applications: the county's form, its attachments, the workflow that carries it, and its audit trail."""
