"""spaCy components: sentences, numeric and promotional claims, assertion context, evidence."""
