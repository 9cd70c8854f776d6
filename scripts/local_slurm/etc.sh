# Sourced by start.sh and stop.sh: point /etc/slurm at the local cluster's config, and put back
# exactly what was there before when the cluster stops.
#
# slurmstepd drops every SLURM_* variable (SLURM_CONF too) before a job's inner srun, so the
# config has to sit at the compiled-in path /etc/slurm. A link left behind after the cluster
# stopped is not harmless: every later `scontrol`/`sinfo` call, and the Snakemake SLURM plugin
# when Snakemake imports it, waits on the dead controller (~9 s per `snakemake` call).
#
# etc_install DIR ETC  saves what ETC holds (nothing, a file, or a link) under DIR/etc-saved/ the
#                      first time, then links ETC/slurm.conf and ETC/gres.conf to DIR/etc/.
# etc_restore DIR ETC  removes those links (only while they still point at DIR) and puts the saved
#                      state back; ETC itself goes again when it did not exist before and is empty.
#
# A link left by another local cluster whose stop never ran (its DIR/etc holds the marker file)
# is not "what was there before": that cluster's own saved state is taken over instead (nothing
# when it kept none). Any other link, dangling or not, is put back as it was.
ETC_FILES=(slurm.conf gres.conf)
ETC_MARKER=.vero-local-slurm

_etc_save_one() {  # DIR ETC NAME -> one manifest line: "NAME absent|file|link TARGET"
  local dir=$1 f=$3 path="$2/$3" target owner line
  if [ -L "$path" ]; then
    target=$(readlink "$path")
    owner=$(dirname "$target")
    if [ "$target" = "$dir/etc/$f" ]; then
      echo "$f absent"  # our own link without a manifest: nothing of the site's to keep
    elif [ -e "$owner/$ETC_MARKER" ]; then
      # left by another local cluster: take over its saved state (files included)
      if [ -s "$owner/../etc-saved/manifest" ] && line=$(grep "^$f " "$owner/../etc-saved/manifest"); then
        [ "${line#* }" = file ] && cp -p "$owner/../etc-saved/$f" "$dir/etc-saved/$f"
        echo "$line"
      else
        echo "$f absent"
      fi
    else
      echo "$f link $target"
    fi
  elif [ -e "$path" ]; then
    mv "$path" "$dir/etc-saved/$f"
    echo "$f file"
  else
    echo "$f absent"
  fi
}

etc_install() {  # DIR ETC
  local dir=$1 etc=$2 f
  mkdir -p "$dir/etc-saved" "$dir/etc"
  : > "$dir/etc/$ETC_MARKER"
  if [ ! -s "$dir/etc-saved/manifest" ]; then
    {
      if [ -d "$etc" ]; then echo "dir present"; else echo "dir absent"; fi
      for f in "${ETC_FILES[@]}"; do _etc_save_one "$dir" "$etc" "$f"; done
    } > "$dir/etc-saved/manifest.new"
    mv "$dir/etc-saved/manifest.new" "$dir/etc-saved/manifest"
  fi
  mkdir -p "$etc"
  for f in "${ETC_FILES[@]}"; do
    # a site file is never overwritten: it was moved to etc-saved/ above
    if [ -e "$etc/$f" ] && [ ! -L "$etc/$f" ]; then
      echo "local_slurm: $etc/$f appeared after it was saved; not replacing it" >&2
      return 1
    fi
    ln -sfn "$dir/etc/$f" "$etc/$f"
  done
}

etc_restore() {  # DIR ETC
  local dir=$1 etc=$2 manifest="$1/etc-saved/manifest" name kind rest
  [ -s "$manifest" ] || return 0
  while read -r name kind rest; do
    [ "$name" = dir ] && continue
    if [ -L "$etc/$name" ] && [ "$(readlink "$etc/$name")" = "$dir/etc/$name" ]; then
      rm -f "$etc/$name"
    elif [ -e "$etc/$name" ] || [ -L "$etc/$name" ]; then
      echo "local_slurm: $etc/$name was changed while the cluster ran; leaving it" >&2
      continue
    fi
    case "$kind" in
      file) mv "$dir/etc-saved/$name" "$etc/$name" ;;
      link) ln -s "$rest" "$etc/$name" ;;
    esac
  done < "$manifest"
  if grep -qx "dir absent" "$manifest"; then
    rmdir "$etc" 2>/dev/null || true
  fi
  rm -rf "$dir/etc-saved"
}
