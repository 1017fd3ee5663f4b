"""`make bench`: the platform's performance, measured in one run beside what a user would pick instead."""
