"""异议: objections to a published result, filed by the applicant, settled by the office."""
