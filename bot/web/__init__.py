"""The staff console in the browser: server-rendered pages over the workflow (bot.workflow),
each staff member logged in as themselves."""
