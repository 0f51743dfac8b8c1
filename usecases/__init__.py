"""The application layer: one function per use case, the settings, and the command lines.

Pages (`dashboard/`) and command lines call these functions; they call `core` (pixels in,
frozen results out) and `db` (rows and photo files). Nothing here imports Streamlit.

- `settings`       the one settings object, validated at start-up (`SettingsError` names the variable)
- `clinic`         where a use case reads and writes: the engine and the photo store
- `visits`         record a visit from uploaded photos: decode, duplicate check, analysis, store
- `folder_plan`    where a folder's photos go (patients, visit dates, refused files and links)
- `folder_import`  import a folder of photos through the same functions
- `model_loading` the models, loaded once per process in the background from start-up
- `photos`         a stored photo with its masks, as the account may see it (de-identified for
                   researchers); re-analysis with the current models
- `studies`        whether a study's researchers see identifiable photos (admins switch it)
- `reports`        the pictures of a patient's PDF report, as the account may see them
- `framing_guide`  the last photo of a view as the framing guide; how an upload's framing differs
- `model_facts`    the installed models in a clinician's words, the versions behind the analyses
- `model_engineering` the installed files for engineers: versions, checksums, settings, numbers
- `cli/`           `python -m usecases.cli.<command>`: import_folder, migrate, check, backup
"""
