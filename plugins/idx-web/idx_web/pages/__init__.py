"""Page models: what each page shows, composed from idx-server's services (no HTML here)."""
