"""idx-remoteuser: take the user name from a header set by a trusted reverse proxy
(``X-Remote-User`` by default), honoured only from configured proxy addresses."""

__version__ = "0.1.0"
