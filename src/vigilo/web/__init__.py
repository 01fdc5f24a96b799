"""Static web front ends served by Vigilo (no CDN, no build step): `liveness/` is the H5 liveness page."""
