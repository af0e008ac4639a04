"""JSON Schema: the one walker, $ref resolver, path formatter and canonical hash;
schema compatibility between two revisions of a tool."""
