# micropython-lib style manifest: freeze the governor into a board's firmware image.
metadata(description="keigov speed governor", version="0.1.0")
module("main.py")
package("core")
package("boards")
package("tables")
