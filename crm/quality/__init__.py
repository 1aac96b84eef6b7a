"""Call quality (质检): the scorecard as data, the pure scoring engine, and stored scores."""
