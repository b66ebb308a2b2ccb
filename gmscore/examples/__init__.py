"""Small runnable examples on data shipped with gmscore."""
