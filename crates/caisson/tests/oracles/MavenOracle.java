// Differential oracle: Maven's ComparableVersion (maven-artifact jar).
// Reads "A\tB" lines, prints <, = or > per line.
import java.io.*;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class MavenOracle {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8)));
        String line;
        while ((line = in.readLine()) != null) {
            int i = line.indexOf('\t');
            int r = new ComparableVersion(line.substring(0, i)).compareTo(new ComparableVersion(line.substring(i + 1)));
            out.println(r < 0 ? "<" : r > 0 ? ">" : "=");
        }
        out.flush();
    }
}
