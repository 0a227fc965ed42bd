"""The study: experiment grids (profiles), their parallel execution, the results notebook and the book."""
