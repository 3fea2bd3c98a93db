"""Streamlit-side helpers: the Supervisor singleton and pure view models for the pages."""
