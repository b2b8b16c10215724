"""The runner's own pages: home, sign-in by email link, and /me.

Small modules, one job each: `common` (templates, cookies, who is signed in), `signin`
(the email-link routes), `signin_mail` (the message), `summary` (what /me shows, read from the
database), `svg_chart` (the 16-week chart), `me` (the /me routes), `home` (/ and the stylesheet).
"""
