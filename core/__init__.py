"""Acne analysis core: images, faces, models and measures. No Streamlit, no SQL."""
