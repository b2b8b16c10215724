"""The built wheel, installed away from the repository."""
