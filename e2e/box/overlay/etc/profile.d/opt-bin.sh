# Flatcar puts /opt/bin (where fleet is installed) on every user's PATH.
case ":$PATH:" in *:/opt/bin:*) ;; *) PATH="/opt/bin:$PATH" ;; esac
