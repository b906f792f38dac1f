# Differential oracle: RubyGems' Gem::Version. Reads "A\tB" lines.
require 'rubygems'
$stdout.sync = false
STDIN.each_line do |line|
  a, b = line.chomp("\n").split("\t", 2)
  begin
    r = Gem::Version.new(a) <=> Gem::Version.new(b)
    puts(r < 0 ? '<' : r > 0 ? '>' : '=')
  rescue ArgumentError
    puts 'error'
  end
end
