"""AI Council Automation: scheduling, streaming, monitoring and analytics for 24/7 debates."""
