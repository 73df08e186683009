"""The component kinds a plugin can register, and the hook that registers each."""

KINDS: tuple[str, ...] = ("schedules", "losses", "optimizers", "clipping", "replay", "collapse")

#: What one component of each kind is, for messages such as "no schedules registered".
KIND_NOUNS: dict[str, str] = {
    "schedules": "superposition schedule",
    "losses": "loss",
    "optimizers": "optimizer",
    "clipping": "gradient clipping strategy",
    "replay": "replay strategy",
    "collapse": "collapse strategy",
}


def registration_hook(kind: str) -> str:
    """Name of the hook through which plugins register components of ``kind``."""
    return f"qembed_register_{kind}"
