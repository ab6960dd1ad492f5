"""Cross-source comparison (placeholder until conflicts land)."""


def compare_sources(claims, registry, options):
    return [], []
