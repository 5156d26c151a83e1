"""The public checker: programmes, the form for each, and the result with every point explained.
`views` translates requests, `forms` builds a programme's form from its facts, `services` holds
what the views and the API need from the scoring engine."""
