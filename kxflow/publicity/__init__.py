"""The public-notice period (公示): the public list, written objections and their resolution; the public roll."""
