"""The problem types of the bank's imports (see api/platform/problems.py)."""

from api.platform.problems import register

register(
    "import-too-many-items",
    413,
    "Too many items in one import",
    "The import holds more questions than `IMPORT_MAX_ITEMS`; nothing was written.",
    "Split the file into several imports.",
)
register(
    "import-conflict",
    409,
    "Import conflicts with existing questions",
    "Items of the import have the slug of a question that already exists, and the import "
    "was not told what to do with them (`on_conflict=fail`, the default); nothing was "
    "written. The problem lists the conflicting items.",
    "Send again with `on_conflict=update` to update them or `on_conflict=skip` to leave them.",
)
register(
    "unsafe-xml",
    400,
    "XML with entity declarations",
    "A Moodle XML import declares entities (which expand, or fetch files or URLs) in a "
    "document type definition; such documents are refused unread, and nothing was written.",
    "Remove the `<!DOCTYPE ...>` declaration: Moodle's own exports have none.",
)
