"""The live lab: the same scenarios against a real PostgreSQL, through real pools."""
