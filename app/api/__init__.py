"""The JSON API (`/api/v1`): `views` serves it, `openapi` describes it."""
