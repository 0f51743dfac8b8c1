"""The data layer: SQLModel tables, the photo store, migrations and every query.

Knows nothing of Streamlit or torch; reads only `core`'s plain result types.
"""
