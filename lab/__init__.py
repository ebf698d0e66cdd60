"""The lab: the whole site (two servers, a NAS, the admin box) on one machine."""
