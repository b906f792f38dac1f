# Differential oracle: R's package_version(). Reads "A\tB" lines.
lines <- readLines(file("stdin"))
out <- character(length(lines))
for (i in seq_along(lines)) {
  p <- strsplit(lines[[i]], "\t", fixed = TRUE)[[1]]
  out[[i]] <- tryCatch({
    a <- package_version(p[[1]], strict = TRUE)
    b <- package_version(if (length(p) > 1) p[[2]] else "", strict = TRUE)
    if (a < b) "<" else if (a > b) ">" else "="
  }, error = function(e) "error", warning = function(w) "error")
}
writeLines(out)
