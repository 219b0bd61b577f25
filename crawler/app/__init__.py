"""The application's edge: the command line (thin), its tables and progress display, the offline demo."""
