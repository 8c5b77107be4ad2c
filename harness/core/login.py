"""The lab's test login: every server creates this user, unless its adapter has its own."""

TEST_LOGIN = ("ftpuser", "ftp-secret")
