"""Working days on the State Council's holiday schedule (节假日安排), with the years the ministry enters itself."""
