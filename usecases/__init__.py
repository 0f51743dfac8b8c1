"""The application layer: one function per use case, the settings, and the command lines.

Pages (`dashboard/`) and command lines call these functions; they call `core` (pixels in,
frozen results out) and `db` (rows and photo files). Nothing here imports Streamlit.

- `settings`       the one settings object, validated at start-up (`SettingsError` names the variable)
- `clinic`         where a use case reads and writes: the engine and the photo store
- `visits`         record a visit from uploaded photos: decode, duplicate check, analysis, store
- `folder_plan`    where a folder's photos go (patients, visit dates, refused files and links)
- `folder_import`  import a folder of photos through the same functions
- `photos`         a stored photo with its masks; re-analysis with the current models
- `cli/`           `python -m usecases.cli.<command>`: import_folder, migrate, check, backup
"""
