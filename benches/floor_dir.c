/* The floor for a directory source: the least any program must do to turn a ConfigMap-style
 * directory (one file per credential, its content unix seconds) into one exposition line per
 * file. readdir, then open + read + close each file, then one buffered line to the output. No
 * validation, no sorting, no labels beyond the name: what is left is the cost of the system calls
 * and the copy.
 *
 * Build: gcc -O2 -o floor_dir benches/floor_dir.c
 * Run:   floor_dir DIR OUT   (OUT "-" is stdout)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR OUT\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (dir == NULL) {
        perror(argv[1]);
        return 1;
    }
    FILE *out = strcmp(argv[2], "-") == 0 ? stdout : fopen(argv[2], "w");
    if (out == NULL) {
        perror(argv[2]);
        return 1;
    }
    static char buf[1 << 16];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    int dfd = dirfd(dir);
    unsigned long lines = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        int fd = openat(dfd, entry->d_name, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        char content[64];
        ssize_t n = read(fd, content, sizeof content - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        while (n > 0 && (content[n - 1] == '\n' || content[n - 1] == ' ')) {
            n--;
        }
        content[n] = '\0';
        fprintf(out, "credwatch_credential_expiry_timestamp_seconds{credential=\"%s\"} %s\n", entry->d_name,
                content);
        lines++;
    }
    closedir(dir);
    if (fclose(out) != 0) {
        perror("write");
        return 1;
    }
    fprintf(stderr, "%lu\n", lines);
    return 0;
}
