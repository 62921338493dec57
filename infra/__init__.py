"""Infrastructure definitions shared by the local runtime and the deploy template."""
